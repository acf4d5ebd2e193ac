"""A/B experiments: arms with traffic shares, and the stable arm of a user.

An arm names the serving strategy it uses (``user``: the full fallback chain
user -> cluster -> trending; ``cluster``: cluster -> trending; ``trending``).
A user's arm is a stable hash of (experiment, user id), so a user stays in one
arm across requests, processes and restarts, and two experiments split users
independently.

>>> exp = Experiment(name="e1", arms=[Arm(name="a", strategy="user", share=1),
...                                   Arm(name="b", strategy="trending", share=1)])
>>> assign_arm(exp, "u-42") == assign_arm(exp, "u-42")
True
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Strategy = Literal["user", "cluster", "trending"]


class Arm(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    strategy: Strategy = "user"
    share: float = Field(default=1.0, gt=0)


class Experiment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    arms: list[Arm] = Field(min_length=2, max_length=16)

    @model_validator(mode="after")
    def _distinct_arms(self) -> Experiment:
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"experiment {self.name}: arm names must be distinct, got {names}")
        return self


def bucket(experiment: str, user_id: str) -> float:
    """A uniform number in [0, 1) fixed by (experiment, user): the first 8 bytes of SHA-256."""
    digest = hashlib.sha256(f"{experiment}\x1f{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_arm(experiment: Experiment, user_id: str) -> Arm:
    """The user's arm: shares cut [0, 1) into consecutive slices, in the arms' order."""
    point = bucket(experiment.name, user_id) * sum(a.share for a in experiment.arms)
    for arm in experiment.arms:
        if point < arm.share:
            return arm
        point -= arm.share
    return experiment.arms[-1]  # rounding at the very top
