"""The history list's own parts for the admin: typed-in and date filters, a paginator that
counts only so far, and a changelist that loads only the listed columns.

Reads only, like the admin that uses them (history/admin.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, cast

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import cached_property

# The changelist shows these columns only; the request and response bodies (up to 64 KiB
# each) stay in the database until a detail page is opened.
LIST_COLUMNS = (
    "id",
    "created_at",
    "webhook_name",
    "user_id",
    "status",
    "response_status_code",
    "duration_ms",
    "failure_reason",
    "source",
    "attempt_count",
    "max_attempts",
    "next_attempt_at",
)


class InputFilter(admin.ListFilter):
    """A sidebar filter typed into a box, for values with too many choices to list (users, journeys)."""

    template = "admin/history/input_filter.html"
    parameter_name: str
    field_lookup: str
    placeholder = ""

    def __init__(self, request: HttpRequest, params: dict[str, list[str]], model: type[Model], model_admin: Any) -> None:
        super().__init__(request, params, model, model_admin)
        if self.parameter_name in params:
            value = params.pop(self.parameter_name)[-1].strip()
            if value:
                self.used_parameters[self.parameter_name] = value

    def value(self) -> str:
        return str(self.used_parameters.get(self.parameter_name, ""))

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str | None]:
        return [self.parameter_name]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.value():
            return queryset
        return queryset.filter(**{self.field_lookup: self.value()})

    def choices(self, changelist: ChangeList) -> Iterator[dict[str, Any]]:
        # One "choice" carrying what the form needs: the other active parameters as hidden
        # inputs, so typing a user keeps the webhook, tab and dates already chosen.
        yield {
            "parameter_name": self.parameter_name,
            "value": self.value(),
            "placeholder": self.placeholder,
            "hidden": _other_parameters(changelist, self.expected_parameters()),
            "clear_query_string": changelist.get_query_string(remove=[self.parameter_name]),
        }


def _other_parameters(changelist: ChangeList, own: list[str | None]) -> list[tuple[str, str]]:
    # `params` holds neither the page number nor the error flag: a new filter starts at page one.
    return [(name, value) for name, value in changelist.params.items() if name not in own]


class UserIdFilter(InputFilter):
    title = "user"
    parameter_name = "user_id"
    field_lookup = "user_id"
    placeholder = "user id, exactly"


class JourneyNameFilter(InputFilter):
    title = "journey"
    parameter_name = "journey_name"
    field_lookup = "journey_name"
    placeholder = "journey name, exactly"


class CreatedBetweenFilter(admin.ListFilter):
    """From and to dates, both included, in the console's time zone."""

    title = "date range"
    template = "admin/history/date_range_filter.html"
    from_parameter = "created_from"
    to_parameter = "created_to"

    def __init__(self, request: HttpRequest, params: dict[str, list[str]], model: type[Model], model_admin: Any) -> None:
        super().__init__(request, params, model, model_admin)
        for name in self.expected_parameters():
            if name in params:
                value = params.pop(name)[-1].strip()
                if value:
                    self.used_parameters[name] = value

    def _date(self, name: str) -> dt.date | None:
        value = self.used_parameters.get(name)
        if not value:
            return None
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError as invalid:
            raise IncorrectLookupParameters(f"'{value}' is not a date like 2026-12-31.") from invalid

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str | None]:
        return [self.from_parameter, self.to_parameter]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        start, end = self._date(self.from_parameter), self._date(self.to_parameter)
        zone = timezone.get_current_timezone()
        if start is not None:
            queryset = queryset.filter(created_at__gte=dt.datetime.combine(start, dt.time.min, tzinfo=zone))
        if end is not None:
            queryset = queryset.filter(created_at__lt=dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=zone))
        return queryset

    def choices(self, changelist: ChangeList) -> Iterator[dict[str, Any]]:
        yield {
            "from_parameter": self.from_parameter,
            "to_parameter": self.to_parameter,
            "from_value": self.used_parameters.get(self.from_parameter, ""),
            "to_value": self.used_parameters.get(self.to_parameter, ""),
            "hidden": _other_parameters(changelist, self.expected_parameters()),
            "clear_query_string": changelist.get_query_string(remove=[self.from_parameter, self.to_parameter]),
        }


class CappedCountPaginator(Paginator):
    """Counts the filtered deliveries only up to `cap`: the admin counts them on every page
    view, and a count of a million rows costs more than the page itself. Past the cap the
    list says "10,000+" and offers the first `cap` rows' pages; a narrower filter finds the rest."""

    cap = 10_000

    @cached_property
    def _counted(self) -> int:
        queryset = cast(QuerySet[Any], self.object_list)
        # SELECT COUNT(*) FROM (SELECT created_at ... LIMIT cap + 1) stops at the cap. Without
        # the ordering, and with created_at (in every index the list filters by) rather than
        # the id, an index answers it without reading the rows.
        return queryset.order_by().values("created_at")[: self.cap + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self._counted, self.cap)

    @property
    def capped(self) -> bool:
        return self._counted > self.cap

    @property
    def count_text(self) -> str:
        return f"{self.cap:,}+" if self.capped else f"{self.count:,}"


class DeliveryChangeList(ChangeList):
    def get_queryset(self, request: HttpRequest, exclude_parameters: list[str | None] | None = None) -> QuerySet[Any]:
        return super().get_queryset(request, exclude_parameters).only(*LIST_COLUMNS)
