"""Email actions: what the gateway does with mail to join@, leave@, profile@, confirm+TOKEN@..."""
