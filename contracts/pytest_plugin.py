"""pytest plugin (entry point ``pytest11``): fixtures for testing against the SolusVM mock.

Placeholder until the contracts issue fills it in; importing it must stay cheap and safe.
"""
