"""Where the differential oracle departs from AWS, our engine gives AWS's answer.

Each case is recorded in tests/oracle/known_bugs.py with the AWS source that decides it; the
differential test excuses only these departures. Cases go through the `simulate --batch`
contract's own line handler, in process.
"""

from __future__ import annotations

import json

import pytest

from lab.policy.batch import answer_line
from tests.oracle.known_bugs import RECORDED, Recorded


@pytest.mark.parametrize("recorded", RECORDED, ids=lambda recorded: recorded.name)
def test_engine_gives_aws_answer(recorded: Recorded) -> None:
    answer = json.loads(answer_line(json.dumps(recorded.case)))
    assert answer["decision"] == recorded.aws, recorded.source


def test_each_departure_disagrees_with_the_oracle() -> None:
    assert [r.name for r in RECORDED if r.aws == r.oracle] == []
