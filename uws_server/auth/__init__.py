"""Who is calling and what they may do.

- :mod:`.permissions` the grant names (Agave's READ, WRITE, EXECUTE and their unions);
- :mod:`.tokens` API tokens: how they look, how they are made and stored (hashed);
- :mod:`.users` the user and token service (owns its transactions), quotas per user;
- :mod:`.authenticator` turns a request's credentials into an ``Identity``;
- :mod:`.policy` the one access rule, as a Python check and as the SQL filter of lists.
"""
