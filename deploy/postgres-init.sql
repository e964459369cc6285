-- one database per service (fundguard_cases is created by POSTGRES_DB)
CREATE DATABASE fundguard_inspection OWNER fundguard;
CREATE DATABASE fundguard_notify OWNER fundguard;
CREATE DATABASE fundguard_portal OWNER fundguard;
