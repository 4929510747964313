"""Upstream's run_*/skip_* conveniences: steps or skipped time in calendar units.

`TimeUnits` is the part of `BaseWorld` that turns ``world.run_days(3)`` into
``world.run(3, timedelta_per_step=timedelta(days=1))`` (months are 4 weeks and years
365 days, as upstream).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any


class TimeUnits:
    """Mixin of `BaseWorld`: `run` and `skip` in minutes, hours, days, weeks, months, years."""

    def run_minutes(self, minutes: int, **kwargs: Any) -> Any:
        """Upstream's wrapper: `run` `minutes` steps of one minute each."""
        return self.run(minutes, timedelta_per_step=timedelta(minutes=1), **kwargs)

    def run_hours(self, hours: int, **kwargs: Any) -> Any:
        """Upstream's wrapper: `run` `hours` steps of one hour each."""
        return self.run(hours, timedelta_per_step=timedelta(hours=1), **kwargs)

    def run_days(self, days: int, **kwargs: Any) -> Any:
        """Upstream's wrapper: `run` `days` steps of one day each."""
        return self.run(days, timedelta_per_step=timedelta(days=1), **kwargs)

    def run_weeks(self, weeks: int, **kwargs: Any) -> Any:
        """Upstream's wrapper: `run` `weeks` steps of one week each."""
        return self.run(weeks, timedelta_per_step=timedelta(weeks=1), **kwargs)

    def run_months(self, months: int, **kwargs: Any) -> Any:
        """Upstream's wrapper: `run` `months` steps of one month (4 weeks) each."""
        return self.run(months, timedelta_per_step=timedelta(weeks=4), **kwargs)

    def run_years(self, years: int, **kwargs: Any) -> Any:
        """Upstream's wrapper: `run` `years` steps of one year (365 days) each."""
        return self.run(years, timedelta_per_step=timedelta(days=365), **kwargs)

    def skip_minutes(self, minutes: int) -> None:
        """Upstream's wrapper: `skip` `minutes` steps of one minute each."""
        self.skip(minutes, timedelta(minutes=1))

    def skip_hours(self, hours: int) -> None:
        """Upstream's wrapper: `skip` `hours` steps of one hour each."""
        self.skip(hours, timedelta(hours=1))

    def skip_days(self, days: int) -> None:
        """Upstream's wrapper: `skip` `days` steps of one day each."""
        self.skip(days, timedelta(days=1))

    def skip_weeks(self, weeks: int) -> None:
        """Upstream's wrapper: `skip` `weeks` steps of one week each."""
        self.skip(weeks, timedelta(weeks=1))

    def skip_months(self, months: int) -> None:
        """Upstream's wrapper: `skip` `months` steps of one month (4 weeks) each."""
        self.skip(months, timedelta(weeks=4))

    def skip_years(self, years: int) -> None:
        """Upstream's wrapper: `skip` `years` steps of one year (365 days) each."""
        self.skip(years, timedelta(days=365))
