--
-- PostgreSQL database dump
--

\restrict 4bQ1xKcY2mWn8zTgFhJ0pLs

-- Dumped from database version 15.13
SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SELECT pg_catalog.set_config('search_path', '', false);
SET default_tablespace = '';

CREATE TABLE public.authors (
    id bigint NOT NULL,
    name text NOT NULL,
    bio text
);

CREATE SEQUENCE public.authors_id_seq START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
ALTER SEQUENCE public.authors_id_seq OWNED BY public.authors.id;
ALTER TABLE ONLY public.authors ALTER COLUMN id SET DEFAULT nextval('public.authors_id_seq'::regclass);
ALTER TABLE ONLY public.authors
    ADD CONSTRAINT authors_pkey PRIMARY KEY (id);

--
-- PostgreSQL database dump complete
--

\unrestrict 4bQ1xKcY2mWn8zTgFhJ0pLs
