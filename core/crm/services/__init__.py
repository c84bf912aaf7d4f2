"""The domain's operations. Every function takes a SQLAlchemy session first,
never commits, and raises :mod:`crm.errors` for anything it refuses."""
