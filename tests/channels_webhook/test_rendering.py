"""rendering.py without a database: golden cases from tests/fixtures/rendering_cases.json,
static analysis, validation with positions, sandbox limits, time zones and the parse cache."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from channels_webhook import rendering
from channels_webhook.rendering import (
    HeaderTemplate,
    RenderFailed,
    RequestTemplate,
    TemplateProblem,
    data_variables,
    render_context,
    render_request,
    validate_request_template,
)

CASES_FILE = Path(__file__).resolve().parent.parent / "fixtures" / "rendering_cases.json"
CASES: list[dict[str, Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))


def _template(values: dict[str, Any]) -> RequestTemplate:
    return RequestTemplate(
        method=values["method"],
        url=values["url"],
        headers=tuple(HeaderTemplate(name=h["name"], value=h["value"], secret=h["secret"]) for h in values["headers"]),
        body_type=values["body_type"],
        body=values["body"],
    )


def _context(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"user_id": "u-1001", "attributes": {}, "tags": {}, "data": {}, "delivery_id": "d-1"}
    values.update(overrides)
    return render_context(**values)


def test_the_golden_file_has_enough_distinct_cases():
    names = [case["name"] for case in CASES]
    assert len(names) >= 35
    assert len(names) == len(set(names))
    assert all(("expected" in case) != ("error" in case) for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_golden_case(case: dict[str, Any]):
    template = _template(case["template"])
    context = render_context(**case["context"])

    if "error" in case:
        with pytest.raises(RenderFailed) as caught:
            render_request(template, context)
        assert {"reason": caught.value.reason, "message": caught.value.message} == case["error"]
        return

    rendered = render_request(template, context)
    expected = case["expected"]
    assert rendered.method == case["template"]["method"]
    assert rendered.url == expected["url"]
    assert [list(header) for header in rendered.headers] == expected["headers"]
    assert rendered.body == expected["body"].encode("utf-8")
    if "body_json" in expected:
        assert json.loads(rendered.body) == expected["body_json"]


def test_json_body_is_sent_once_encoded_with_one_content_type():
    text = 'Line one\nHe said "hi" \\ done'
    template = RequestTemplate(
        method="POST", url="https://api.example.com/hook", body='{"user": "{{ userId }}", "text": "{{ text }}"}'
    )

    rendered = render_request(template, _context(data={"text": text}))

    assert rendered.body[:1] == b"{"
    assert json.loads(rendered.body.decode("utf-8")) == {"user": "u-1001", "text": text}
    assert [name for name, _ in rendered.headers if name.lower() == "content-type"] == ["Content-Type"]


def test_secret_header_is_masked_but_sent():
    template = RequestTemplate(
        method="POST",
        url="https://api.example.com/hook",
        headers=(HeaderTemplate("X-Secret-Key", "sk-live-42", secret=True), HeaderTemplate("X-Plain", "p")),
        body_type="none",
    )

    rendered = render_request(template, _context())

    assert rendered.headers == (("X-Secret-Key", "sk-live-42"), ("X-Plain", "p"))
    assert rendered.masked_headers() == [("X-Secret-Key", "••••••"), ("X-Plain", "p")]


# --------------------------------------------------------------------------- data variables


def test_data_variables_of_a_json_body_are_only_the_data_names():
    template = RequestTemplate(
        method="POST",
        url="https://api.example.com/hook",
        body=(
            '{"text": "{{ text }}", "user": "{{ userId }}", "phone": "{{ tags.phone_number }}", '
            '"coupon": "{{ entry_event.data.coupon }}", "x": "{% assign x = 1 %}{{ x }}"}'
        ),
    )

    assert data_variables(template) == ["text"]


def test_data_variables_across_url_headers_and_text_body():
    template = RequestTemplate(
        method="POST",
        url="https://api.example.com/u/{{ userId }}",
        headers=(
            HeaderTemplate("X-Phone", "{{ tags.phone_number }}"),
            HeaderTemplate("X-Coupon", "{{ entry_event.data.coupon }}"),
        ),
        body_type="text",
        body="{{ text }} {% assign x = 1 %}{{ x }}",
    )

    assert data_variables(template) == ["text"]


# --------------------------------------------------------------------------- validation


def _problems(body: str, **values: Any) -> list[TemplateProblem]:
    template = RequestTemplate(method="POST", url=values.pop("url", "https://api.example.com/hook"), body=body, **values)
    return validate_request_template(template)


def test_valid_template_has_no_problems():
    assert _problems('{"a": "{{ tags.x | default: \\"y\\" | upcase }}"}') == []


def test_syntax_error_has_line_and_column():
    assert _problems("line one\n  {{ x ! y }}", body_type="text") == [
        TemplateProblem(field="Body", message="unknown operator '!'", line=2, column=8)
    ]


def test_unknown_filter_has_line_and_column_in_the_json_body():
    assert _problems('{\n  "a": "{{ x | nope }}"\n}') == [
        TemplateProblem(field="Body", message="Unknown filter 'nope'", line=2, column=16)
    ]


@pytest.mark.parametrize(
    ("body", "line", "column"),
    [
        ('{"a": "{{ \\"q\\" }} {{ x | nope }}"}', 1, 27),  # an escaped quote is two characters
        ('{"a": "one\\ntwo {{ x | nope }}"}', 1, 24),  # an escaped line break stays on its line
    ],
)
def test_problem_in_a_json_string_is_placed_over_its_escapes(body: str, line: int, column: int):
    assert _problems(body) == [TemplateProblem(field="Body", message="Unknown filter 'nope'", line=line, column=column)]


def test_unknown_filter_in_the_url():
    assert _problems("", url="https://e.com/{{ x | nope }}", body_type="none") == [
        TemplateProblem(field="URL", message="Unknown filter 'nope'", line=1, column=22)
    ]


def test_unknown_tag_has_line_and_column():
    assert _problems("ok\n{% nope %}", body_type="text") == [
        TemplateProblem(field="Body", message="unexpected tag 'nope'", line=2, column=4)
    ]


@pytest.mark.parametrize("tag", ["include", "render"])
def test_tags_that_load_other_templates_are_unknown(tag: str):
    assert _problems(f"{{% {tag} 'x' %}}", body_type="text") == [
        TemplateProblem(field="Body", message=f"unexpected tag '{tag}'", line=1, column=4)
    ]


def test_typographic_quote_is_named_with_line_and_column():
    (problem,) = _problems("{{ x | default: \u201cthere\u201d }}", body_type="text")

    assert problem == TemplateProblem(
        field="Body",
        message="unexpected '\u201c': a typographic quote; type a straight quote (\" or ') instead",
        line=1,
        column=17,
    )
    assert str(problem).endswith("(line 1, column 17)")


@pytest.mark.parametrize(
    ("body", "message", "line", "column"),
    [
        ('{"a": 1,}', "Expecting property name enclosed in double quotes", 1, 9),
        ('{\n  "a": 1\n  "b": 2\n}', "Expecting ',' delimiter", 3, 3),
        ('{"to": "123", "text": "Hi"', "Expecting ',' delimiter", 1, 27),
        ("to=123&text=Hi", "Expecting value", 1, 1),
    ],
)
def test_json_body_without_liquid_that_is_not_json_is_a_problem_when_saved(body: str, message: str, line: int, column: int):
    # Without Liquid the body is sent as typed: every send would fail after rendering.
    assert _problems(body) == [
        TemplateProblem(
            field="Body",
            message=f"Body is not valid JSON: {message}. Fix it, or choose the text body type",
            line=line,
            column=column,
        )
    ]
    assert _problems(body, body_type="text") == []


@pytest.mark.parametrize(
    "body",
    ['{"a": {{ tags.n | json }}}', '{"a": 1{% if x %}, "b": 2{% endif %}}', '{"user": "{{ userId }}", "note": {{ tags.note }}}'],
)
def test_json_body_that_is_json_only_after_rendering_is_accepted_when_saved(body: str):
    assert _problems(body) == []


def test_unknown_tag_in_a_header_names_the_header():
    template = RequestTemplate(
        method="POST", url="https://api.example.com/hook", headers=(HeaderTemplate("X-A", "{% nope %}"),), body_type="none"
    )

    assert validate_request_template(template) == [
        TemplateProblem(field="Header 'X-A'", message="unexpected tag 'nope'", line=1, column=4)
    ]


@pytest.mark.parametrize(
    ("source", "message", "line", "column"),
    [
        ("a\n{% if x %}b", "{% if %} is never closed: add {% endif %}", 2, 1),
        ("{% for a in b %}{% if c %}{% endif %}\n", "{% for %} is never closed: add {% endfor %}", 1, 1),
        ("x {{ x | }}", "expected word, found end of expression", 1, 3),
    ],
)
def test_syntax_errors_at_the_end_of_input_still_have_a_position(source: str, message: str, line: int, column: int):
    # Acceptance 8: every syntax error is reported with line and column. Liquid gives no
    # position for some end-of-input errors, so rendering.py supplies one.
    (problem,) = _problems(source, body_type="text")

    assert (problem.message, problem.line, problem.column) == (message, line, column)


# --------------------------------------------------------------------------- sandbox


def test_huge_loop_stops_with_a_render_error_within_a_second():
    template = RequestTemplate(
        method="POST", url="https://api.example.com/hook", body_type="text", body="{% for i in (1..100000000) %}x{% endfor %}"
    )

    start = time.monotonic()
    with pytest.raises(RenderFailed) as caught:
        render_request(template, _context())
    elapsed = time.monotonic() - start

    assert (caught.value.reason, caught.value.message) == (
        "render_error",
        "Body: the template stopped: loop iteration limit reached.",
    )
    assert elapsed < 1.0


def test_loop_bound_from_data_stops_too():
    template = RequestTemplate(
        method="POST", url="https://api.example.com/hook", body_type="text", body="{% for i in (1..n) %}x{% endfor %}"
    )

    start = time.monotonic()
    with pytest.raises(RenderFailed) as caught:
        render_request(template, _context(data={"n": 100_000_000}))

    assert (caught.value.reason, caught.value.message) == (
        "render_error",
        "Body: the template stopped: loop iteration limit reached.",
    )
    assert time.monotonic() - start < 1.0


@pytest.mark.parametrize(
    ("body_type", "body", "where"),
    [
        ("json", '{\n  "to": "x",\n  "text": "Hi {{ text }}"\n}', "line 3, column 15"),
        ("json", '{"a": "{{ \\"q\\" }}{{ text }}"}', "line 1, column 19"),
        ("json", '{"to": "x", "{{ text }}": 1}', "line 1, column 14"),
        ("form", '{"to": "x",\n "text": "{{ text }}"}', "line 2, column 11"),
        ("text", "Hi\n  {{ text }}", "line 2, column 3"),
    ],
)
def test_error_while_rendering_a_json_string_names_its_place_in_the_body(body_type: str, body: str, where: str):
    template = RequestTemplate(method="POST", url="https://api.example.com/hook", body_type=body_type, body=body)

    with pytest.raises(RenderFailed) as caught:
        render_request(template, _context(data={"text": {"a": 1}}))

    assert caught.value.message == f"Body: {{{{ text }}}} is an object; use '| json' to print it ({where})"


def _render_text(body: str, **data: Any) -> bytes:
    template = RequestTemplate(method="POST", url="https://api.example.com/hook", body_type="text", body=body)
    return render_request(template, _context(data=data)).body


_WALKING_RANGE_BODIES = [
    "{{ (1..n) | join }}",
    "{{ (1..n) | reverse | first }}",
    "{{ (1..n) | sort | last }}",
    "{% if (1..n) contains 'x' %}yes{% endif %}",
    "{% for i in (1..n) reversed %}{% break %}{% endfor %}",
    "{% for i in (1..n) offset: 99999 %}{{ i }}{% endfor %}",
]
_LAZY_RANGE_BODIES = ["{{ (1..n) | size }}", "{{ (1..n) | first }}", "{{ (1..n) | last }}", "{{ (1..n) }}"]


@pytest.mark.parametrize(
    ("body", "n"),
    [(body, 100_001) for body in _WALKING_RANGE_BODIES + _LAZY_RANGE_BODIES]
    # Without the check these would walk the whole range for hours, so only the lazy ones
    # show that a huge range is refused from its bounds, not by walking it.
    + [(body, 999_999_999_999) for body in _LAZY_RANGE_BODIES]
    + [("{% assign r = (1..n) %}{{ r | size }}", 10**30)],
)
def test_range_longer_than_the_loop_limit_is_refused_before_it_is_walked(body: str, n: int):
    with pytest.raises(RenderFailed) as caught:
        _render_text(body, n=n)

    assert (caught.value.reason, caught.value.message) == (
        "render_error",
        f"Body: the template stopped: the range (1..n) has {n:,} items; a range may have at most 100,000.",
    )


def test_range_at_the_limit_renders():
    assert _render_text("{{ (1..100000) | size }}|{{ (1..n) | join: ',' }}|{{ (1..n) | reverse | first }}", n=3) == (
        b"100000|1,2,3|3"
    )


def test_loop_over_a_huge_range_still_takes_only_its_limit():
    assert _render_text("{% for i in (1..999999999999) limit: 2 %}{{ i }}{% endfor %}") == b"12"
    assert _render_text("{% for i in (1..n) offset: 3 limit: 2 %}{{ i }}{% endfor %}", n=10) == b"45"
    assert _render_text("{% for i in (1..3) %}{% for j in (1..2) reversed %}{{ i }}{{ j }}{% endfor %}{% endfor %}") == (
        b"121122213231"
    )


def test_ranges_in_a_loop_count_together():
    # Each range is allowed, but a loop would multiply the work: ten full ranges per render.
    assert _render_text("{% for i in (1..10) %}{{ (1..100000) | size }}{% endfor %}") == b"100000" * 10

    with pytest.raises(RenderFailed) as caught:
        _render_text("{% for i in (1..11) %}{{ (1..100000) | size }}{% endfor %}")

    assert caught.value.message == (
        "Body: the template stopped: the ranges of this template made more than 1,000,000 items in all "
        "(the last one was (1..100000)); use smaller ranges, or fewer loops around them."
    )


def test_range_with_number_bounds_over_the_limit_is_a_problem_when_saved():
    assert _problems("a\n  {{ (1..999999999999) | join }}", body_type="text") == [
        TemplateProblem(
            field="Body",
            message="The range (1..999999999999) has 999,999,999,999 items; a range may have at most 100,000.",
            line=2,
            column=6,
        )
    ]
    assert _problems('{"a": "{% for i in (0..100000) reversed %}{% endfor %}"}') == [
        TemplateProblem(
            field="Body",
            message="The range (0..100000) has 100,001 items; a range may have at most 100,000.",
            line=1,
            column=20,
        )
    ]


@pytest.mark.parametrize(
    "body",
    [
        "{{ (1..100000) | join }}",
        "{{ (1..tags.n) | join }}",
        "{% for i in (1..999999999999) limit: 2 %}{{ i }}{% endfor %}",
        "{% for i in (1..100000000) %}x{% endfor %}",
    ],
)
def test_ranges_that_may_render_are_accepted_when_saved(body: str):
    assert _problems(body, body_type="text") == []


@pytest.mark.parametrize(
    "body",
    ["{% for i in (1..2000) %}{{ chunk }}{% endfor %}", '{"a": "{% for i in (1..2000) %}{{ chunk }}{% endfor %}"}'],
    ids=["text", "json-leaf"],
)
def test_output_over_one_mebibyte_stops_with_a_render_error(body: str):
    template = RequestTemplate(
        method="POST", url="https://api.example.com/hook", body_type="text" if body[0] != "{" else "json", body=body
    )

    start = time.monotonic()
    with pytest.raises(RenderFailed) as caught:
        render_request(template, _context(data={"chunk": "y" * 1000}))

    assert (caught.value.reason, caught.value.message) == (
        "render_error",
        "Body: the template stopped: output stream limit reached.",
    )
    assert time.monotonic() - start < 1.0


def test_body_just_under_the_limit_renders():
    template = RequestTemplate(
        method="POST",
        url="https://api.example.com/hook",
        body_type="text",
        body="{% for i in (1..1000) %}{{ chunk }}{% endfor %}",
    )

    rendered = render_request(template, _context(data={"chunk": "y" * 1000}))

    assert rendered.body == b"y" * 1_000_000


# --------------------------------------------------------------------------- time zones


@pytest.fixture
def new_york_process_tz():
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        yield
    finally:
        if previous is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = previous
        time.tzset()


DATE_TEMPLATE = RequestTemplate(
    method="POST",
    url="https://api.example.com/hook",
    body_type="text",
    body=(
        '{{ naive | date: "%Y-%m-%d %H:%M %z" }}|{{ aware | date: "%Y-%m-%d %H:%M" }}|'
        '{{ ts | date: "%Y-%m-%d %H:%M" }}|{{ naive | date: "%H:%M", "Asia/Seoul" }}|{{ naive | date: "%s" }}'
    ),
)
DATE_DATA = {"naive": "2025-07-01T09:15:00", "aware": "2025-07-01T09:15:00+02:00", "ts": 1751361300}
DATE_EXPECTED = b"2025-07-01 09:15 +0000|2025-07-01 07:15|2025-07-01 09:15|18:15|1751361300"


def test_date_renders_in_utc():
    assert render_request(DATE_TEMPLATE, _context(data=DATE_DATA)).body == DATE_EXPECTED


def test_date_does_not_depend_on_the_process_time_zone(new_york_process_tz):
    assert time.strftime("%Z", time.localtime(0)) == "EST"  # the zone really changed
    assert render_request(DATE_TEMPLATE, _context(data=DATE_DATA)).body == DATE_EXPECTED


# --------------------------------------------------------------------------- caching


def test_templates_are_parsed_once_per_source():
    # A source no other test uses, so that the first render is a miss.
    source = f"cache probe {time.time_ns()}: {{{{ userId }}}}-{{{{ tags.n | default: 0 }}}}"
    template = RequestTemplate(method="POST", url="https://api.example.com/hook", body_type="text", body=source)

    before = rendering._compile.cache_info()
    first = render_request(template, _context())
    after_first = rendering._compile.cache_info()
    second = render_request(template, _context(user_id="u-2", tags={"n": 7}))
    after_second = rendering._compile.cache_info()

    assert after_first.misses == before.misses + 1
    assert after_second.misses == after_first.misses
    assert after_second.hits == after_first.hits + 1
    assert first.body.endswith(b": u-1001-0")
    assert second.body.endswith(b": u-2-7")
