"""The job runner: turns a project's snapshot (an iteration in ``Training``) into a model."""
