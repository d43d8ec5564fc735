-- HSS subscriber store. One set of migrations for SQLite and PostgreSQL: only portable types
-- (TEXT, BIGINT) and constructs both accept.

-- One row per private user identity (IMPI). Keys are stored as hexadecimal text so the same
-- column type works on both backends; service_profiles holds the structured profiles (public
-- identities, iFCs) as JSON in the shape of the REST API.
CREATE TABLE IF NOT EXISTS subscribers (
    impi TEXT PRIMARY KEY NOT NULL,
    k TEXT NOT NULL,
    op TEXT,
    opc TEXT,
    amf TEXT NOT NULL,
    sqn BIGINT NOT NULL,
    auth_schemes TEXT NOT NULL,
    password TEXT,
    digest_realm TEXT,
    allowed_visited_networks TEXT NOT NULL,
    service_profiles TEXT NOT NULL
);

-- Index of public identities (IMPU) to their subscription, kept in step with service_profiles.
CREATE TABLE IF NOT EXISTS public_identities (
    impu TEXT PRIMARY KEY NOT NULL,
    impi TEXT NOT NULL REFERENCES subscribers (impi) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS public_identities_impi ON public_identities (impi);

-- Registration state and S-CSCF assignment per IMPU (TS 29.228 §6.1): a missing row is
-- NOT_REGISTERED without a stored S-CSCF name.
CREATE TABLE IF NOT EXISTS registrations (
    impu TEXT PRIMARY KEY NOT NULL,
    impi TEXT NOT NULL REFERENCES subscribers (impi) ON DELETE CASCADE,
    state TEXT NOT NULL,
    scscf_name TEXT
);
CREATE INDEX IF NOT EXISTS registrations_impi ON registrations (impi);

-- The Diameter identity (Origin-Host) of each S-CSCF, learnt from its SARs, so that RTR and PPR
-- can be addressed (Destination-Host) to the S-CSCF a user is assigned to by SIP URI.
CREATE TABLE IF NOT EXISTS scscf_hosts (
    server_name TEXT PRIMARY KEY NOT NULL,
    diameter_host TEXT NOT NULL
);
