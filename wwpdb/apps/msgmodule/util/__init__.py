"""OneDep's utilities over the messaging service: ExtractMessage (reminder tracking), AutoMessage (letters)."""
