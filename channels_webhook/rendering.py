"""The one Liquid environment: validating, analysing and rendering webhook templates.

This is the only module that imports `liquid`. It is pure (no ORM, no I/O): it takes the
templates and a context and returns the exact request to send, or raises RenderFailed with
a message staff can act on. Missing values are errors, never blanks; JSON bodies whose
template is valid JSON are rendered string by string and re-encoded, so user data cannot
break them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from io import StringIO
from typing import Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from liquid import BoundTemplate, Environment, Expression, FalsyStrictUndefined, Node, RenderContext
from liquid.builtin.expressions import LoopExpression
from liquid.builtin.expressions.primitive import FloatLiteral, IntegerLiteral, RangeLiteral
from liquid.builtin.output import Output, OutputNode
from liquid.exceptions import LiquidError, LiquidTypeError, ResourceLimitError, UndefinedError
from liquid.output import LimitedStringIO
from liquid.stringify import to_liquid_string

from channels_webhook.request_checks import RequestRejected, check_header, check_text_body, check_url

BodyType = Literal["json", "form", "text", "none"]
BODY_TYPES: tuple[BodyType, ...] = ("json", "form", "text", "none")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

# Names the product fills in; every other root name in a template is a data variable.
USER_ATTRIBUTE_NAMES = ("email", "phoneNumber", "name", "country", "language", "timeZone")
RESERVED_ROOT_NAMES = frozenset({"userId", *USER_ATTRIBUTE_NAMES, "tags", "entry_event", "journey", "delivery"})

MAX_TEMPLATE_LENGTH = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024
LOOP_ITERATION_LIMIT = 100_000
# A range literal may have as many items as a loop may run; all the ranges of one render
# together ten times that, so a range inside a loop cannot multiply the work unseen.
MAX_RANGE_ITEMS = LOOP_ITERATION_LIMIT
MAX_RANGE_ITEMS_PER_RENDER = 10 * MAX_RANGE_ITEMS
MASK = "••••••"

DEFAULT_CONTENT_TYPES: dict[str, str] = {
    "json": "application/json",
    "form": "application/x-www-form-urlencoded",
    "text": "text/plain; charset=utf-8",
}


# --------------------------------------------------------------------------- environment


def _filter_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _to_datetime(value: object) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    elif isinstance(value, str):
        text = value.strip()
        if text.lower() in ("now", "today"):
            return dt.datetime.now(tz=dt.UTC)
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return dt.datetime.fromtimestamp(float(text), tz=dt.UTC)
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    # A time without a zone is taken as UTC, never as the worker host's zone.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _filter_date(value: object, fmt: object = None, time_zone: object = None) -> str:
    moment = _to_datetime(value)
    if moment is None:
        return "" if value is None else str(value)
    if time_zone:
        try:
            moment = moment.astimezone(ZoneInfo(str(time_zone)))
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"date: unknown time zone '{time_zone}'") from None
    else:
        moment = moment.astimezone(dt.UTC)
    if not fmt:
        return moment.isoformat()
    if fmt == "%s":
        return str(int(moment.timestamp()))
    return moment.strftime(str(fmt))


def _filter_number_with_delimiter(value: object, delimiter: object = ",") -> str:
    """1234567.5 → 1,234,567.5 (the decimals are kept as given)."""
    text = str(value).strip() if value is not None else ""
    match = re.fullmatch(r"(-?)(\d+)(\.\d+)?", text)
    if not match:
        return text
    sign, whole, decimals = match.groups()
    return f"{sign}{int(whole):,}".replace(",", str(delimiter)) + (decimals or "")


class _ScalarOutputNode(OutputNode):
    """`{{ ... }}` that refuses an object or a list instead of printing Python's repr of it."""

    def render_to_output(self, context: RenderContext, buffer: Any) -> int:
        value = self.expression.evaluate(context)
        if isinstance(value, (dict, list, tuple)):
            kind = "an object" if isinstance(value, dict) else "a list"
            hint = "'| json'" if isinstance(value, dict) else "'| join: \", \"' or '| json'"
            raise LiquidTypeError(f"{{{{ {self.expression} }}}} is {kind}; use {hint} to print it", token=self.token)
        return buffer.write(to_liquid_string(value, context.autoescape))


class _ScalarOutput(Output):
    node_class = _ScalarOutputNode


class _ExactLimitedStringIO(LimitedStringIO):
    """Liquid's size-limited buffer, without newline translation.

    python-liquid's own one turns "\r\n" into "\n" (universal newlines), which would change
    user data such as a CRLF a vendor expects in a message body.
    """

    def __init__(self, limit: int) -> None:
        StringIO.__init__(self, None, "")
        self.limit = limit
        self.size = 0


class _ExactContext(RenderContext):
    __slots__ = ("range_items",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.range_items = 0

    def get_buffer(self, buf: Any = None) -> StringIO:
        carry = buf.size if isinstance(buf, LimitedStringIO) else 0
        return _ExactLimitedStringIO(limit=MAX_BODY_BYTES - carry)


def _range_too_long(text: str, items: int) -> str:
    return f"range {text} has {items:,} items; a range may have at most {MAX_RANGE_ITEMS:,}"


class _BoundedRangeLiteral(RangeLiteral):
    """`(a..b)` that counts its items before anything walks them.

    python-liquid evaluates a range literal to a lazy `range` and only `for` loops count
    iterations, so `join`, `reverse`, `sort`, `map`, `contains` or `{{ }}` would walk
    (1..999999999999) item by item, in C, where no Python-level limit or signal can stop it.
    """

    __slots__ = ()

    def _checked(self, items: range, context: RenderContext) -> range:
        count = max(items.stop - items.start, 0)  # len() overflows past sys.maxsize
        if count > MAX_RANGE_ITEMS:
            raise ResourceLimitError(f"the {_range_too_long(str(self), count)}", token=self.token)
        if isinstance(context, _ExactContext):
            context.range_items += count
            if context.range_items > MAX_RANGE_ITEMS_PER_RENDER:
                raise ResourceLimitError(
                    f"the ranges of this template made more than {MAX_RANGE_ITEMS_PER_RENDER:,} items in all "
                    f"(the last one was {self}); use smaller ranges, or fewer loops around them",
                    token=self.token,
                )
        return items

    def literal_length(self) -> int | None:
        """The number of items when both bounds are typed as numbers, else None."""
        start, stop = self.start, self.stop
        if not isinstance(start, (IntegerLiteral, FloatLiteral)) or not isinstance(stop, (IntegerLiteral, FloatLiteral)):
            return None
        items = self._make_range(start.value, stop.value)
        return max(items.stop - items.start, 0)

    def evaluate(self, context: RenderContext) -> range:
        return self._checked(super().evaluate(context), context)

    async def evaluate_async(self, context: RenderContext) -> range:
        return self._checked(await super().evaluate_async(context), context)


def _bounded_ranges(nodes: Iterable[Node], static_context: RenderContext) -> Iterable[_BoundedRangeLiteral]:
    """Turn every range literal of a parsed template into a _BoundedRangeLiteral, and yield it.

    A `for` loop over a range is left lazy: it takes only the items its `limit:` asks for
    and counts them against the loop limit. Reversed, it takes all of them first, and with
    an `offset:` it steps over that many one by one, so those stay bounded.
    """
    expressions: list[Expression] = []
    for node in nodes:
        yield from _bounded_ranges(node.children(static_context, include_partials=False), static_context)
        expressions += node.expressions()
    while expressions:
        expression = expressions.pop()
        children = list(expression.children())
        if isinstance(expression, LoopExpression) and not expression.reversed and expression.offset is None:
            if isinstance(expression.iterable, RangeLiteral):
                children = [c for c in children if c is not expression.iterable] + list(expression.iterable.children())
        if isinstance(expression, RangeLiteral):
            # Same slots, one more check: retyping the parsed node needs no copy of the tree.
            expression.__class__ = _BoundedRangeLiteral
            assert isinstance(expression, _BoundedRangeLiteral)
            yield expression
        expressions += children


class _ExactTemplate(BoundTemplate):
    context_class = _ExactContext

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ranges = tuple(_bounded_ranges(self.nodes, RenderContext(self)))

    def _get_buffer(self) -> StringIO:
        return _ExactLimitedStringIO(limit=MAX_BODY_BYTES)


class WebhookEnvironment(Environment):
    """Sandboxed: bounded loops, output and nesting, and no tags that load other templates."""

    template_class = _ExactTemplate
    loop_iteration_limit = LOOP_ITERATION_LIMIT
    output_stream_limit = MAX_BODY_BYTES
    local_namespace_limit = 256 * 1024
    context_depth_limit = 10
    block_nesting_limit = 20


def _build_environment() -> WebhookEnvironment:
    environment = WebhookEnvironment(undefined=FalsyStrictUndefined, autoescape=False)
    for tag_name in ("include", "render"):
        environment.tags.pop(tag_name, None)
    environment.tags["output"] = _ScalarOutput(environment)
    environment.add_filter("json", _filter_json)
    environment.add_filter("date", _filter_date)
    environment.add_filter("number_with_delimiter", _filter_number_with_delimiter)
    return environment


ENVIRONMENT = _build_environment()


# --------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class HeaderTemplate:
    name: str
    value: str
    secret: bool = False


@dataclass(frozen=True)
class RequestTemplate:
    """Every templated part of a webhook, as plain values."""

    method: str
    url: str
    headers: tuple[HeaderTemplate, ...] = ()
    body_type: str = "json"
    body: str = ""


@dataclass(frozen=True)
class TemplateProblem:
    """A problem found when a template is saved, with its position when Liquid knows it."""

    field: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = f" (line {self.line}, column {self.column})" if self.line is not None else ""
        return f"{self.message}{where}"


@dataclass(frozen=True)
class _Compiled:
    template: BoundTemplate
    # Where each global variable is used, so an UndefinedError can name the full path.
    path_at: Mapping[int, str]
    paths: tuple[str, ...]


def _path_text(segments: Iterable[object]) -> str:
    text = ""
    for segment in segments:
        if isinstance(segment, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", segment):
            text += f".{segment}" if text else segment
        elif isinstance(segment, str):
            text += f'["{segment}"]'
        elif isinstance(segment, int):
            text += f"[{segment}]"
        else:  # a nested variable used as a key
            text += f"[{_path_text(getattr(segment, 'segments', [str(segment)]))}]"
    return text


@lru_cache(maxsize=4096)
def _compile(source: str) -> _Compiled:
    """Parse once per distinct source; a webhook edit changes the source and so the key."""
    template = ENVIRONMENT.from_string(source)
    analysis = template.analyze(include_partials=False)
    path_at: dict[int, str] = {}
    for variables in analysis.globals.values():
        for variable in variables:
            path_at[variable.span.index] = _path_text(variable.segments)
    return _Compiled(template=template, path_at=path_at, paths=tuple(sorted(set(path_at.values()))))


def _problem_from_error(field_name: str, error: LiquidError, source: str) -> TemplateProblem:
    message = str(error.message or error)
    if "“" in message or "”" in message or "‘" in message or "’" in message:
        message += ": a typographic quote; type a straight quote (\" or ') instead"
    context = error.context()
    if context is None:
        # Liquid gives no position for errors found at the end of the input (an unclosed
        # block, a dangling filter); point at the tag left open, or at the last tag.
        unclosed = re.fullmatch(r"expected tag end(\w+), found end of expression", message)
        if unclosed:
            message = f"{{% {unclosed.group(1)} %}} is never closed: add {{% end{unclosed.group(1)} %}}"
        line, column = _line_column(source, _end_of_input_error_index(source, str(error.message)))
        return TemplateProblem(field=field_name, message=message, line=line, column=column)
    line, column = context[0], context[1]
    return TemplateProblem(field=field_name, message=message, line=line, column=column + 1)


def _end_of_input_error_index(source: str, message: str) -> int:
    unclosed = re.search(r"expected tag end(\w+)", message)
    if unclosed:
        block = unclosed.group(1)
        depth_openings: list[int] = []
        for tag in re.finditer(r"{%-?\s*(end)?" + re.escape(block) + r"\b", source):
            if tag.group(1):
                if depth_openings:
                    depth_openings.pop()
            else:
                depth_openings.append(tag.start())
        if depth_openings:
            return depth_openings[-1]
    starts = [source.rfind("{{"), source.rfind("{%")]
    return max(max(starts), 0)


def _line_column(source: str, index: int) -> tuple[int, int]:
    line = source.count("\n", 0, index) + 1
    return line, index - (source.rfind("\n", 0, index) + 1) + 1


def validate_template(source: str, *, field_name: str) -> list[TemplateProblem]:
    """Syntax errors, unknown tags and unknown filters, each with line and column."""
    if len(source) > MAX_TEMPLATE_LENGTH:
        return [TemplateProblem(field=field_name, message=f"Template is longer than {MAX_TEMPLATE_LENGTH} characters.")]
    try:
        template = ENVIRONMENT.from_string(source)
        analysis = template.analyze(include_partials=False)
    except LiquidError as error:
        return [_problem_from_error(field_name, error, source)]
    assert isinstance(template, _ExactTemplate)
    problems = _range_problems(template, source, field_name)
    for filter_name, uses in analysis.filters.items():
        if filter_name not in ENVIRONMENT.filters:
            line, column = _line_column(source, uses[0].index) if uses else (None, None)
            problems.append(
                TemplateProblem(field=field_name, message=f"Unknown filter '{filter_name}'", line=line, column=column)
            )
    return problems


def _range_problems(template: _ExactTemplate, source: str, field_name: str) -> list[TemplateProblem]:
    """Ranges typed with number bounds are known too long before any render."""
    problems = []
    for expression in template.ranges:
        items = expression.literal_length()
        if items is not None and items > MAX_RANGE_ITEMS:
            line, column = _line_column(source, expression.token.start_index)
            message = f"The {_range_too_long(str(expression), items)}."
            problems.append(TemplateProblem(field=field_name, message=message, line=line, column=column))
    return problems


def _json_body_shape(source: str) -> object | None:
    """The body template parsed as JSON, or None when it is only JSON after rendering."""
    try:
        return json.loads(source)
    except ValueError:
        return None


def _template_fields(template: RequestTemplate) -> list[tuple[str, str]]:
    """(field label, source) for every templated part, body leaves included."""
    fields = [("URL", template.url)]
    fields += [(f"Header '{header.name}'", header.value) for header in template.headers]
    if template.body_type != "none" and template.body:
        shape = _json_body_shape(template.body) if template.body_type in ("json", "form") else None
        if shape is None:
            fields.append(("Body", template.body))
        else:
            fields += [("Body", leaf) for leaf in _json_strings(shape)]
    return fields


def _json_strings(node: object) -> Iterable[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _json_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _json_strings(item)


def validate_request_template(template: RequestTemplate) -> list[TemplateProblem]:
    """Everything that can be known about a webhook before it is sent."""
    problems: list[TemplateProblem] = []
    if template.method not in HTTP_METHODS:
        problems.append(TemplateProblem(field="Method", message=f"Method must be one of {', '.join(HTTP_METHODS)}."))
    if template.body_type not in BODY_TYPES:
        problems.append(TemplateProblem(field="Body type", message=f"Body type must be one of {', '.join(BODY_TYPES)}."))
    problems += validate_template(template.url, field_name="URL")
    problems += _url_problems(template.url)
    for header in template.headers:
        problems += validate_template(header.value, field_name=f"Header '{header.name}'")
    if template.body_type == "form" and template.body.strip():
        shape = _json_body_shape(template.body)
        if not isinstance(shape, dict) or not all(isinstance(v, str) for v in shape.values()):
            problems.append(
                TemplateProblem(
                    field="Body",
                    message='A form body is a JSON object of field names to text, e.g. {"to": "{{ tags.phone_number }}"}.',
                )
            )
            return problems
    if template.body_type != "none" and template.body:
        shape = _json_body_shape(template.body) if template.body_type in ("json", "form") else None
        if shape is None:
            problems += validate_template(template.body, field_name="Body")
            if template.body_type == "json":
                problems += _static_json_problems(template.body)
        else:
            for leaf in _json_strings(shape):
                problems += [_place_in_body(template.body, leaf, p) for p in validate_template(leaf, field_name="Body")]
    return problems


def _static_json_problems(body: str) -> list[TemplateProblem]:
    """A JSON body without Liquid is sent as typed, so if it is not JSON now it never will be.

    With Liquid outside its strings a body may become JSON when rendered; that is checked
    at send time.
    """
    if "{{" in body or "{%" in body:
        return []
    try:
        json.loads(body)
    except json.JSONDecodeError as error:
        return [
            TemplateProblem(
                field="Body",
                message=f"Body is not valid JSON: {error.msg}. Fix it, or choose the text body type",
                line=error.lineno,
                column=error.colno,
            )
        ]
    return []


def _url_problems(url: str) -> list[TemplateProblem]:
    """What can be known about the URL before rendering: all of it when it has no Liquid,
    else its scheme when that is typed out (a file:// URL never becomes sendable)."""
    if not url.strip():
        return []  # "this field cannot be blank" comes from the model
    if "{{" not in url and "{%" not in url:
        try:
            check_url(url)
        except RequestRejected as rejected:
            return [TemplateProblem(field="URL", message=rejected.message)]
        return []
    scheme = re.match(r"^\s*([A-Za-z][A-Za-z0-9+.-]*):", url)
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        return [TemplateProblem(field="URL", message=f"The URL must start with http:// or https:// (found '{scheme.group(1)}').")]
    return []


def _place_in_body(body: str, leaf: str, problem: TemplateProblem) -> TemplateProblem:
    """Move a problem found in one JSON string of the body to its line and column in the body.

    The string sits on one line of the body, escaped: a quote or line break in it is two
    characters there, so the position is counted over the escaped text.
    """
    start = body.find(_json_escaped(leaf))
    if start < 0 or problem.line is None or problem.column is None:
        return problem
    line_starts = [0] + [n + 1 for n, character in enumerate(leaf) if character == "\n"]
    in_leaf = line_starts[min(problem.line, len(line_starts)) - 1] + problem.column - 1
    line, column = _line_column(body, start + len(_json_escaped(leaf[:in_leaf])))
    return TemplateProblem(field=problem.field, message=problem.message, line=line, column=column)


def _json_escaped(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


def variable_paths(template: RequestTemplate) -> list[str]:
    """Every global variable path the templates read, e.g. tags.phone_number, text."""
    paths: set[str] = set()
    for _, source in _template_fields(template):
        try:
            paths.update(_compile(source).paths)
        except LiquidError:
            continue
    return sorted(paths)


def data_variables(template: RequestTemplate) -> list[str]:
    """Root names that are not filled in by the product: values given per send."""
    roots = {re.split(r"[.\[]", path, maxsplit=1)[0] for path in variable_paths(template)}
    return sorted(roots - RESERVED_ROOT_NAMES)


# --------------------------------------------------------------------------- rendering


class RenderFailed(Exception):
    """Nothing may be sent. `reason` is a Delivery failure reason; `message` is for staff."""

    def __init__(self, reason: Literal["render_error", "invalid_request"], message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class RenderedRequest:
    """The exact request to send. Secret header values are in `headers`; show `masked_headers()`."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    secret_header_names: frozenset[str] = field(default_factory=frozenset)

    def masked_headers(self) -> list[tuple[str, str]]:
        return [(name, MASK if name.lower() in self.secret_header_names else value) for name, value in self.headers]

    def body_text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def render_context(
    *,
    user_id: str,
    attributes: Mapping[str, Any],
    tags: Mapping[str, Any],
    data: Mapping[str, Any],
    delivery_id: str,
    entry_event: Mapping[str, Any] | None = None,
    journey: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The variables of DESIGN.md. Empty attributes are left out so that using them is an error."""
    context: dict[str, Any] = {key: value for key, value in data.items() if key not in RESERVED_ROOT_NAMES}
    context["userId"] = user_id
    context.update({name: value for name, value in attributes.items() if value not in (None, "")})
    context["tags"] = dict(tags)
    context["delivery"] = {"id": delivery_id}
    if entry_event is not None:
        context["entry_event"] = dict(entry_event)
    if journey is not None:
        context["journey"] = dict(journey)
    return context


def render_value(source: str, context: Mapping[str, Any], *, field_name: str) -> str:
    """Render one free-standing template (a journey node's data value). Raises RenderFailed."""
    return _render_one(source, context, field_name=field_name)


def _render_one(source: str, context: Mapping[str, Any], *, field_name: str, within: str | None = None) -> str:
    """Render one template; `within` is the JSON body it is a string of, for error positions."""
    if "{{" not in source and "{%" not in source:
        return source

    def problem(error: LiquidError) -> TemplateProblem:
        found = _problem_from_error(field_name, error, source)
        return found if within is None else _place_in_body(within, source, found)

    try:
        compiled = _compile(source)
    except LiquidError as error:
        raise RenderFailed("render_error", f"{field_name}: {problem(error)}") from None
    try:
        return compiled.template.render(**context)
    except UndefinedError as error:
        start = error.token.start_index if error.token is not None else -1
        path = compiled.path_at.get(start) or str(error.message)
        raise RenderFailed("render_error", f"{field_name}: {_undefined_message(path)}") from None
    except ResourceLimitError as error:
        raise RenderFailed("render_error", f"{field_name}: the template stopped: {error.message}.") from None
    except LiquidError as error:
        raise RenderFailed("render_error", f"{field_name}: {problem(error)}") from None
    except (ValueError, TypeError, ArithmeticError) as error:
        raise RenderFailed("render_error", f"{field_name}: {error}") from None


def _undefined_message(path: str) -> str:
    root = re.split(r"[.\[]", path, maxsplit=1)[0]
    if root == "tags":
        return f"{path} is not defined: the user has no such tag. Use '| default: ...' or {{% if %}} if it is optional."
    if root in RESERVED_ROOT_NAMES:
        return f"{path} is not defined for this user or send."
    if path == root:
        return f"{path} is not defined: no value was given for the data variable '{root}'."
    return f"{path} is not defined in the data variable '{root}'."


def _render_json_node(node: object, context: Mapping[str, Any], body: str) -> object:
    if isinstance(node, str):
        return _render_one(node, context, field_name="Body", within=body)
    if isinstance(node, dict):
        return {
            _render_one(k, context, field_name="Body", within=body): _render_json_node(v, context, body) for k, v in node.items()
        }
    if isinstance(node, list):
        return [_render_json_node(item, context, body) for item in node]
    return node


def _render_body(template: RequestTemplate, context: Mapping[str, Any]) -> bytes:
    if template.body_type == "none" or not template.body:
        return b""
    if template.body_type == "form":
        shape = _json_body_shape(template.body)
        if not isinstance(shape, dict):
            raise RenderFailed("render_error", "Body: a form body must be a JSON object of field names to text.")
        rendered_form = _render_json_node(shape, context, template.body)
        assert isinstance(rendered_form, dict)
        text = urlencode([(key, str(value)) for key, value in rendered_form.items()])
    elif template.body_type == "json":
        shape = _json_body_shape(template.body)
        if shape is not None:
            text = json.dumps(_render_json_node(shape, context, template.body), ensure_ascii=False)
        else:
            text = _render_one(template.body, context, field_name="Body")
            try:
                json.loads(text)
            except json.JSONDecodeError as error:
                raise RenderFailed(
                    "render_error",
                    f"Body is not valid JSON after rendering: {error.msg} (line {error.lineno}, column {error.colno}). "
                    "Use '| json' for values that may contain quotes or line breaks.",
                ) from None
    else:
        text = _render_one(template.body, context, field_name="Body")
        try:
            check_text_body(text)
        except RequestRejected as rejected:
            raise RenderFailed("invalid_request", rejected.message) from None
    body = text.encode("utf-8")
    if len(body) > MAX_BODY_BYTES:
        raise RenderFailed("render_error", f"Body is larger than {MAX_BODY_BYTES // 1024} KiB after rendering.")
    return body


def render_request(template: RequestTemplate, context: Mapping[str, Any]) -> RenderedRequest:
    """Render every field for one context and check the result; raise RenderFailed otherwise."""
    url = _render_one(template.url, context, field_name="URL")
    headers: list[tuple[str, str]] = []
    secret_names: set[str] = set()
    for header in template.headers:
        field_name = f"Header '{header.name}'"
        value = _render_one(header.value, context, field_name=field_name)
        try:
            value = check_header(
                header.name, value, rendered_from=list(_compile(header.value).paths) if "{" in header.value else []
            )
        except RequestRejected as rejected:
            raise RenderFailed("invalid_request", rejected.message) from None
        headers.append((header.name, value))
        if header.secret:
            secret_names.add(header.name.lower())
    body = _render_body(template, context)
    try:
        url = check_url(url)
    except RequestRejected as rejected:
        raise RenderFailed("invalid_request", rejected.message) from None
    if template.body_type in DEFAULT_CONTENT_TYPES and body and not any(n.lower() == "content-type" for n, _ in headers):
        headers.append(("Content-Type", DEFAULT_CONTENT_TYPES[template.body_type]))
    return RenderedRequest(
        method=template.method, url=url, headers=tuple(headers), body=body, secret_header_names=frozenset(secret_names)
    )
