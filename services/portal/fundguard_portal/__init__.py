"""fundguard web portal (门户): sign-in, the one-machine identity provider and the Chinese pages.

A backend-for-frontend: it owns users and login sessions only; every business fact comes from
the inspection, cases and notify APIs, called server-side with the signed-in user's token."""
