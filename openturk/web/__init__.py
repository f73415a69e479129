"""HTTP routes other than the MTurk wire: the worker API, MTurk's form endpoint, the clock."""
