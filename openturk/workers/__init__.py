"""What workers do: find, accept, submit and return HITs. No HTTP here."""
