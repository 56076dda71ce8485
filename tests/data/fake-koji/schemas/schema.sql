-- The smallest schema the admin bootstrap needs: lets PostgreSQL tests run without Koji's code.
BEGIN WORK;
CREATE TABLE users (
	id SERIAL NOT NULL PRIMARY KEY,
	name VARCHAR(255) UNIQUE NOT NULL,
	password VARCHAR(255),
	status INTEGER NOT NULL,
	usertype INTEGER NOT NULL
);
CREATE TABLE user_krb_principals (
	user_id INTEGER NOT NULL REFERENCES users(id),
	krb_principal VARCHAR(255) NOT NULL UNIQUE
);
CREATE TABLE permissions (id SERIAL NOT NULL PRIMARY KEY, name VARCHAR(50) UNIQUE NOT NULL);
INSERT INTO permissions (name) VALUES ('admin');
CREATE TABLE user_perms (
	user_id INTEGER NOT NULL REFERENCES users(id),
	perm_id INTEGER NOT NULL REFERENCES permissions(id),
	creator_id INTEGER NOT NULL REFERENCES users(id)
);
COMMIT WORK;
