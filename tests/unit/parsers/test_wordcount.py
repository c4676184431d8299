"""字数 counted the way Microsoft Word counts Chinese text."""

from __future__ import annotations

import pytest

from mailintake.demo.samples.forms import filler
from parsers import count_chars


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("   \u3000\n\t", 0),
        ("为民服务", 4),
        ("，。、“”（）：；！？《》", 13),
        ("Hello world", 2),
        ("12.6", 1),
        ("99.8%", 1),
        ("0512-63981234", 1),
        ("e-mail: wy@sz.gov.cn", 2),
        ("办件12.6万件", 5),
        ("满意率99.8%。", 5),
        ("电话：0512-63981234", 4),
        ("ＡＢＣ１２３", 6),  # full-width letters and digits count one each, as in Word
        ("王晓雯　综合窗口", 7),  # the full-width space separates and counts nothing
        ("阿卜杜·热合曼", 7),
    ],
)
def test_count_chars_cases(text: str, expected: int) -> None:
    assert count_chars(text) == expected


def test_count_chars_mixed_paragraph() -> None:
    """GIVEN a narrative mixing Chinese, numbers, English and punctuation WHEN counted THEN Word's figure."""
    text = "我们在2019年完成了12.6万件，满意率99.8%。电话0512-63981234 Hello world"
    # 我们在(3) 2019(1) 年完成了(4) 12.6(1) 万件(2) ，(1) 满意率(3) 99.8%(1) 。(1) 电话(2)
    # 0512-63981234(1) Hello(1) world(1)
    assert count_chars(text) == 22


def test_count_chars_at_the_limit() -> None:
    assert count_chars(filler(1000)) == 1000
    assert count_chars(filler(1001)) == 1001
    assert count_chars(filler(999) + " ABC") == 1000
    assert count_chars(filler(998) + "\n12.6%，") == 1000
