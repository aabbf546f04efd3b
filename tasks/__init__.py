"""Concrete pipeline tasks, one module per task family, built on ``process.task.Task``."""
