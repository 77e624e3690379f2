\restrict aBcD
CREATE TABLE public.audit (id integer NOT NULL, what text);
ALTER TABLE public.audit OWNER TO app_owner;
GRANT SELECT ON TABLE public.audit TO "read-only";
\unrestrict aBcD
