"""What goes on the wire, for other languages: JSON Schema, AsyncAPI, the live contract types."""
