"""The web application: the station's check-in API now; public pages in a later issue."""
