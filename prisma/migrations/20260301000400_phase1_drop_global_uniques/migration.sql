-- Playbook phase 1: two clinics may now share an email or a package name; the global uniques go, without
-- blocking writes.
DROP INDEX CONCURRENTLY IF EXISTS "user_email_key";
DROP INDEX CONCURRENTLY IF EXISTS "paquete_name_key";
