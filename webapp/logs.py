"""Log lines that name the submission and task they are about; JSON for production."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from process.context import current_submission, current_task


class ContextFilter(logging.Filter):
    """Adds the current submission and task to every record (empty when there is none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.submission = current_submission.get()
        record.task = current_task.get()
        parts = [f"{name}={value}" for name, value in _context(record).items()]
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return True


class JSONFormatter(logging.Formatter):
    """One JSON object a line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def _context(record: logging.LogRecord) -> dict[str, str]:
    found = {"submission": getattr(record, "submission", ""), "task": getattr(record, "task", "")}
    return {name: value for name, value in found.items() if value}
