"""A small pipeline framework: tasks, their contract, the pipeline check and the runner.

It knows nothing about concrete tasks or about Django models: the web app hands it a
``Subject`` (the submission as tasks see it) whose ``store`` keeps records and outputs.
"""
