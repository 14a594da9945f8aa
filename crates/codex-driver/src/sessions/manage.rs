//! Archiving, unarchiving, deleting, renaming, forking and queueing messages for sessions.
