"""What a run leaves for people to read: the offline HTML report (``conformance report``)."""
