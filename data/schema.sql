-- The table rewardstore's export loads (SPEC section 1).
CREATE SCHEMA IF NOT EXISTS user_profile;

CREATE TABLE user_profile.user_characters (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL,
    character_id UUID NOT NULL,
    character_code VARCHAR(64) NOT NULL,
    character_name VARCHAR(120) NOT NULL,
    character_type VARCHAR(64),
    character_dialog VARCHAR(500),
    source VARCHAR(120),
    status VARCHAR(20) NOT NULL DEFAULT 'owned',
    acquired_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    CONSTRAINT uq_user_character_code UNIQUE (user_id, character_code)
);
