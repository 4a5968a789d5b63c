"""The guide's five questions to ask any EHR development vendor (data/questions.toml).

Read by the blank workbook (the Quotes sheet's guide panel), the quote analysis (which answers
are strong) and the documents (the questions section)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class VendorQuestion:
    question: str  # the guide's question
    strong_answer: str  # the guide's "what a strong answer looks like"
    why: str  # why it matters for this budget (ours)
    column: str  # the Quotes sheet column holding a vendor's answer
    strong: str  # the answer in that column that counts as strong ("Yes", "Certified components")
    guide_reason: str  # what the guide says is at stake


@cache
def vendor_questions() -> tuple[VendorQuestion, ...]:
    text = resources.files("generator").joinpath("data", "questions.toml").read_text(encoding="utf-8")
    return tuple(VendorQuestion(**q) for q in tomllib.loads(text)["question"])
