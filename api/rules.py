"""``/api/v1/rules``: the alert rules in force, edited one rule at a time, and validation.

Edits go through the rules file (the one source of truth: stream workers and notifiers read it):
the edited text is validated as a whole, written atomically and applied
(:meth:`alerting.rules.RulesWatcher.replace_text`); an invalid result changes nothing and is answered
400 with each problem's ``file:line:column`` in ``details[].loc``. Other processes (stream workers)
pick the change up by polling the file. Positions of a rule sent as JSON refer to the rules file as
it would be with the rule in place. Channels are listed without secrets (URLs redacted).

Text from a request is checked by both readers of the rules file (:mod:`alerting.rules` for rules,
:func:`alerting.notify.check_channels` for channels) and never ``${VAR}``-substituted: an answer
cannot show the value of a variable of this process, nor whether one is set.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from alerting.notify import FileCheck, check_channels, load_channels
from alerting.rules import ParseResult, RuleError, RuleSet, RulesWatcher
from alerting.rules.editor import RulesFileError, rule_names, with_rule, without_rule
from api.context import ApiContext, api_context
from api.errors import ApiError, error_responses
from api.models_alerts import RuleAnswer, RuleDeleted, RulesList, RulesValidation, RuleWritten
from api.params import Utf8

__all__ = ["RuleBody", "ValidateBody", "router"]

router = APIRouter(prefix="/api/v1/rules", tags=["rules"])

Context = Annotated[ApiContext, Depends(api_context)]
Duration = Utf8 | int  # '30s', '5m', or seconds
_INVALID = "the rules file would not load with the change (each problem's file:line:column in details)"
_NO_RULE = "no rule of that name"
_NOT_EDITABLE = "the rules file on disk cannot be edited (its problems in details)"
_UNREADABLE = "the rules file cannot be read"


class RuleBody(BaseModel):
    """One rule, with the keys of the rules file (alerting/rules/ruleset.py documents each)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: Utf8
    condition: Utf8 = Field(description="e.g. 'response_time.p95 > 200'")
    severity: Utf8 | None = Field(None, description="critical | warning | info (default warning)")
    notification: list[Utf8] | None = Field(None, description="channel names defined in the rules file")
    for_: Duration | None = Field(None, alias="for", description="breached this long before firing")
    keep_firing_for: Duration | None = None
    labels: dict[Utf8, Utf8] | None = None
    annotations: dict[Utf8, Utf8] | None = None
    group_by: list[Utf8] | None = None
    window: Duration | None = None

    def as_file_entry(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class ValidateBody(BaseModel):
    """Exactly one of: a whole rules file's text, or one rule checked in place in the current file."""

    model_config = ConfigDict(extra="forbid")

    text: Utf8 | None = Field(None, description="a whole rules file (YAML)")
    rule: RuleBody | None = Field(None, description="one rule: validated as if created or updated now")


def _error(e: RuleError) -> dict[str, Any]:
    return {"file": e.file, "line": e.line, "column": e.column, "reason": e.reason}


def _details(errors: Iterable[RuleError]) -> list[dict[str, str]]:
    """Rules-file errors as the API's error details: ``{"loc": "file:line:column", "msg": reason}``."""
    return [{"loc": f"{e.file}:{e.line}:{e.column}", "msg": e.reason} for e in errors]


def _check(watcher: RulesWatcher, text: str) -> FileCheck:
    """``text`` as a replacement of the rules file, checked by both its readers (``${VAR}`` unresolved)."""
    return FileCheck.of(watcher.validate_text(text), check_channels(text, file=str(watcher.path)))


def _replace(watcher: RulesWatcher, text: str, failure: str) -> RuleSet:
    """Write ``text`` over the rules file and apply it when both readers accept it; else 400 ``failure``."""
    check = _check(watcher, text)
    if not check.valid:
        raise ApiError(400, failure, _details(check.errors))
    result = watcher.replace_text(text)
    if result.rules is None:
        raise ApiError(400, failure, _details(result.errors))
    return result.rules


def _current_text(watcher: RulesWatcher) -> str:
    try:
        return watcher.path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ApiError(500, f"cannot read the rules file {watcher.path}: {exc.__class__.__name__}") from None


def _not_editable(watcher: RulesWatcher, exc: RulesFileError) -> ApiError:
    return ApiError(409, str(exc), _details(_check(watcher, _current_text(watcher)).errors))


def _applied(watcher: RulesWatcher, text: str, name: str) -> dict[str, Any]:
    """Write ``text`` (the file with rule ``name`` created or changed) and answer with the rule."""
    rule = _replace(watcher, text, f"invalid rule {name!r}: the rules file would not load").get(name)
    return {"rule": rule.to_dict() if rule is not None else None, "file": str(watcher.path)}


@router.get("", summary="The rules and channels in force", response_model=RulesList)
async def list_rules(context: Context) -> dict[str, Any]:
    """``errors`` lists the problems of the file on disk when it does not load (the rules in force
    then are the last valid ones); channels come without secrets."""
    watcher = context.rules
    current = watcher.current
    # Channels as the environment the composition root handed over resolves them (the notifier's,
    # when it runs in this process; listed without secrets either way).
    channels = load_channels(watcher.path, env=context.channel_env)
    return {
        "file": str(watcher.path),
        "loaded": current is not None,
        "rules": [r.to_dict() for r in current.rules] if current else [],
        "channels": [c.to_dict() for c in (channels.channels or {}).values()],
        "errors": [_error(e) for e in FileCheck.of(ParseResult(current, watcher.errors), channels).errors],
        "warnings": [str(w) for w in channels.warnings],
    }


@router.get(
    "/{name}", summary="One rule in force", response_model=RuleAnswer, responses=error_responses({404: _NO_RULE})
)
async def get_rule(name: str, context: Context) -> dict[str, Any]:
    current = context.rules.current
    rule = current.get(name) if current else None
    if rule is None:
        raise ApiError(404, f"no rule {name!r}", [{"loc": "path.name", "msg": "no rule of that name is in force"}])
    return {"rule": rule.to_dict()}


@router.post(
    "",
    status_code=201,
    summary="Create a rule (written to the rules file)",
    response_model=RuleWritten,
    responses=error_responses(
        {400: _INVALID, 409: "a rule of that name exists, or " + _NOT_EDITABLE, 500: _UNREADABLE}
    ),
)
async def create_rule(body: RuleBody, context: Context) -> dict[str, Any]:
    watcher = context.rules
    async with context.rules_lock:
        text = _current_text(watcher)
        try:
            if body.name in rule_names(text):
                raise ApiError(409, f"rule {body.name!r} exists", [{"loc": "body.name", "msg": "use PUT to change it"}])
            edited = with_rule(text, body.as_file_entry())
        except RulesFileError as exc:
            raise _not_editable(watcher, exc) from None
        return _applied(watcher, edited, body.name)


@router.put(
    "/{name}",
    summary="Replace a rule (written to the rules file)",
    response_model=RuleWritten,
    responses=error_responses({400: _INVALID, 404: _NO_RULE, 409: _NOT_EDITABLE, 500: _UNREADABLE}),
)
async def update_rule(name: str, body: RuleBody, context: Context) -> dict[str, Any]:
    """The body may rename the rule (its ``name`` differs from the path's)."""
    watcher = context.rules
    async with context.rules_lock:
        text = _current_text(watcher)
        try:
            if name not in rule_names(text):
                raise ApiError(404, f"no rule {name!r}", [{"loc": "path.name", "msg": "no rule of that name"}])
            edited = with_rule(text, body.as_file_entry(), replace=name)
        except RulesFileError as exc:
            raise _not_editable(watcher, exc) from None
        return _applied(watcher, edited, body.name)


@router.delete(
    "/{name}",
    summary="Delete a rule (removed from the rules file)",
    response_model=RuleDeleted,
    responses=error_responses({400: _INVALID, 404: _NO_RULE, 409: _NOT_EDITABLE, 500: _UNREADABLE}),
)
async def delete_rule(name: str, context: Context) -> dict[str, Any]:
    watcher = context.rules
    async with context.rules_lock:
        text = _current_text(watcher)
        try:
            if name not in rule_names(text):
                raise ApiError(404, f"no rule {name!r}", [{"loc": "path.name", "msg": "no rule of that name"}])
            edited = without_rule(text, name)
        except RulesFileError as exc:
            raise _not_editable(watcher, exc) from None
        _replace(watcher, edited, f"cannot delete rule {name!r}")
        return {"deleted": name, "file": str(watcher.path)}


@router.post(
    "/validate",
    summary="Validate a rules file's text, or one rule in place",
    response_model=RulesValidation,
    responses=error_responses({400: "not exactly one of text and rule", 500: _UNREADABLE}),
)
async def validate(body: ValidateBody, context: Context) -> dict[str, Any]:
    """Always 200: ``{"valid", "errors": [{"file", "line", "column", "reason"}], "warnings"}``.
    Nothing is written."""
    if (body.text is None) == (body.rule is None):
        raise ApiError(400, "give exactly one of 'text' and 'rule'", [{"loc": "body", "msg": "text xor rule"}])
    watcher = context.rules
    if body.text is not None:
        candidate = body.text
    else:
        assert body.rule is not None
        text = _current_text(watcher)
        try:
            exists = body.rule.name in rule_names(text)
            candidate = with_rule(text, body.rule.as_file_entry(), replace=body.rule.name if exists else None)
        except RulesFileError:
            candidate = text  # the file itself is broken: its own errors are the answer
    check = _check(watcher, candidate)
    return {
        "valid": check.valid,
        "errors": [_error(e) for e in check.errors],
        "warnings": [str(w) for w in check.warnings],
    }
