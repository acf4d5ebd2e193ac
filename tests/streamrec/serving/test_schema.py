"""The wire models of the serving schema."""

from __future__ import annotations

import pytest

from streamrec.serving.schema import RecList, ScoredItem


@pytest.mark.parametrize("why", [None, {"knn": 0.25, "trend100": -0.5}])
def test_a_trusted_item_equals_the_validated_one_and_serialises_the_same(why) -> None:
    trusted = ScoredItem.trusted("B00X", 0.123456, why)
    validated = ScoredItem.model_validate({"item_id": "B00X", "score": 0.123456, "why": why})
    assert trusted == validated
    assert trusted.model_dump_json() == validated.model_dump_json()
    assert trusted.model_fields_set == validated.model_fields_set | {"why"}
    listed = RecList(strategy="user", level="user", items=[trusted], as_of=1.0)
    again = RecList.model_validate_json(listed.model_dump_json())
    assert again.items == [validated]


def test_a_trusted_item_stays_frozen() -> None:
    item = ScoredItem.trusted("B00X", 1.0, None)
    with pytest.raises(Exception, match="frozen"):
        item.score = 2.0  # type: ignore[misc]


def test_trusted_items_in_bulk_leave_out_removed_ids_and_round_like_one_by_one() -> None:
    whys = [None, {"knn": 0.25}, None, {"trend100": -0.5}]
    items = ScoredItem.trusted_many(["a", None, "c", "d"], [0.1234567, 9.0, -2.5, 1 / 3], whys)
    assert [i.item_id for i in items] == ["a", "c", "d"]
    expected = [
        ScoredItem.trusted(item_id, round(score, 6), why)
        for item_id, score, why in [
            ("a", 0.1234567, None),
            ("c", -2.5, None),
            ("d", 1 / 3, whys[3]),
        ]
    ]
    assert items == expected
    assert [i.model_dump_json() for i in items] == [i.model_dump_json() for i in expected]
    assert [i.model_fields_set for i in items] == [i.model_fields_set for i in expected]
    with pytest.raises(ValueError):  # a score or a reason short: an error, not a shorter list
        ScoredItem.trusted_many(["a", "b"], [1.0], [None, None])
