"""Offline checks of VibesFlow's deployment files (compose/, k8s/, the
Dockerfile) against each other and against the code they deploy.

`python -m deploycheck --srs-version X` (scripts/check-deploy runs it) runs
them all; see runner.py for the list and tools/deploycheck/README.md for
what each one proves."""
