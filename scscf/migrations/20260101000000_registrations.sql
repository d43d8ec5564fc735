-- S-CSCF registrar state. One set of migrations for SQLite and PostgreSQL: only TEXT and BIGINT
-- and constructs both accept. Times are milliseconds since the Unix epoch.

-- One row per registration (implicit registration set), keyed by the registered IMPU.
-- user_data is the IMS subscription XML of the last SAA (TS 29.228 Annex D);
-- charging_function_addresses the P-Charging-Function-Addresses value from its
-- Charging-Information.
CREATE TABLE IF NOT EXISTS scscf_registrations (
    impu TEXT PRIMARY KEY NOT NULL,
    impi TEXT NOT NULL,
    user_data TEXT,
    charging_function_addresses TEXT
);

-- Contact bindings, in the order they are answered in the 200 OK. path is the Path header value
-- of the REGISTER (RFC 3327), used to route terminating requests.
CREATE TABLE IF NOT EXISTS scscf_bindings (
    impu TEXT NOT NULL REFERENCES scscf_registrations (impu) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    contact TEXT NOT NULL,
    impi TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    q BIGINT NOT NULL,
    instance TEXT,
    reg_id BIGINT,
    path TEXT NOT NULL,
    call_id TEXT NOT NULL,
    cseq BIGINT NOT NULL,
    PRIMARY KEY (impu, position)
);

-- Outstanding authentication challenges (TS 24.229 §5.4.1.2.1): the vector (hex) between the 401
-- and the answering REGISTER, and used ones until they are purged (replay detection).
CREATE TABLE IF NOT EXISTS scscf_challenges (
    nonce TEXT PRIMARY KEY NOT NULL,
    impi TEXT NOT NULL,
    impu TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    realm TEXT NOT NULL,
    qop TEXT NOT NULL,
    sip_authenticate TEXT,
    xres TEXT,
    ck TEXT,
    ik TEXT,
    ha1 TEXT,
    expires_at BIGINT NOT NULL,
    purge_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    last_nc BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS scscf_challenges_impi ON scscf_challenges (impi);
