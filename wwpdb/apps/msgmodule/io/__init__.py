"""OneDep-facing entry points (`MessagingFactory`)."""
