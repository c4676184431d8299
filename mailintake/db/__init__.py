"""The database and what lives beside it: engine, models and Alembic migrations, the one-worker lock,
content-addressed file storage, the audit trail and the status words.
"""
