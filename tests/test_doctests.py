"""Run the docstring examples of every module (River's habit: examples that are tested)."""

import doctest
import importlib
import pkgutil

import pytest

import streamrec

MODULES = sorted(m.name for m in pkgutil.walk_packages(streamrec.__path__, "streamrec."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failures == 0
