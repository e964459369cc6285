"""case_audit is append-only: on PostgreSQL a trigger rejects UPDATE and DELETE.

(SQLite, the embedded default, gets the same rule as triggers with RAISE(ABORT).)

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE OR REPLACE FUNCTION fundguard_audit_append_only() RETURNS trigger AS $$
            BEGIN
              RAISE EXCEPTION 'case_audit is append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
            END $$ LANGUAGE plpgsql;
        """)
        op.execute("""
            CREATE TRIGGER case_audit_append_only BEFORE UPDATE OR DELETE ON case_audit
            FOR EACH ROW EXECUTE FUNCTION fundguard_audit_append_only();
        """)
        op.execute("""
            CREATE TRIGGER case_audit_no_truncate BEFORE TRUNCATE ON case_audit
            FOR EACH STATEMENT EXECUTE FUNCTION fundguard_audit_append_only();
        """)
    else:
        op.execute("""CREATE TRIGGER case_audit_no_update BEFORE UPDATE ON case_audit
                      BEGIN SELECT RAISE(ABORT, 'case_audit is append-only'); END;""")
        op.execute("""CREATE TRIGGER case_audit_no_delete BEFORE DELETE ON case_audit
                      BEGIN SELECT RAISE(ABORT, 'case_audit is append-only'); END;""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS case_audit_no_truncate ON case_audit")
        op.execute("DROP TRIGGER IF EXISTS case_audit_append_only ON case_audit")
        op.execute("DROP FUNCTION IF EXISTS fundguard_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS case_audit_no_update")
        op.execute("DROP TRIGGER IF EXISTS case_audit_no_delete")
