"""The staff console: server-rendered pages under /console for HR, IT, finance, managers and admins."""
