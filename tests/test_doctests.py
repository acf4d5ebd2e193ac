"""Run the docstring examples of every module that has some (River's habit: examples that
are tested). Modules without examples are not counted; the core modules must have them."""

import doctest
import importlib
import pkgutil

import pytest

import streamrec

MODULES = [
    *sorted(
        m.name
        for m in pkgutil.walk_packages(streamrec.__path__, "streamrec.")
        if not m.name.endswith(".__main__")
    ),
    "tests.doubles",
]


def runnable_examples(name: str) -> int:
    """How many examples of the module are not skipped."""
    tests = doctest.DocTestFinder().find(importlib.import_module(name))
    return sum(not example.options.get(doctest.SKIP) for test in tests for example in test.examples)


WITH_EXAMPLES = [name for name in MODULES if runnable_examples(name)]


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples(name: str) -> None:
    failures, attempted = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.ELLIPSIS
    )
    assert attempted and failures == 0


@pytest.mark.parametrize("name", [n for n in MODULES if n.startswith("streamrec.core.")])
def test_core_modules_have_examples(name: str) -> None:
    assert runnable_examples(name) > 0, f"{name} has no docstring example"
