"""Configuration: the settings model validated once at start-up, the [campaign] section, the config
file and its environment overrides, and the shipped defaults (forms, roster, quotas, templates).
"""
