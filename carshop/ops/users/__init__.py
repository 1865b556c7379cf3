"""User access: roles, activity, inactive accounts (`list_users`, `user_activity`,
`inactive_users`, `disable_users`)."""
