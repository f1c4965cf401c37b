"""SLA: business-hours calendars, policies and clocks."""
