"""The HTML pages: the training report and the monitoring page, self-contained."""
