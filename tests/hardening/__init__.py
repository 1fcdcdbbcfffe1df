"""Hostile pages, hostile requests, crashes, concurrent writers and full
disks: the cases that must lose nothing and break nothing."""
