"""The database side: schema (`schema`), engines and errors (`engine`), versioned DDL (`migrations`)."""
