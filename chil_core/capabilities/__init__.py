"""Shared payload contracts of capabilities that several backends implement.

A capability's payload and answer format lives here, in the core, so that every backend of that
capability (and every framework that calls it) depends on the core alone, not on each other.
"""
