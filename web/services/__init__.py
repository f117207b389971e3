"""Services behind the admin view's handlers: they read and write through ``storage``."""
