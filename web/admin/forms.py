"""Form parsing for the admin view: bounded, typed values (anything else is refused)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form

Short = Annotated[str, Form(max_length=128)]
OptShort = Annotated[str, Form(max_length=128)]
Text = Annotated[str, Form(max_length=2000)]

TAG_ACTIONS = ("approve", "reject", "edit", "add")
SEVERITIES = ("", "none", "mild", "moderate", "strong", "severe")
