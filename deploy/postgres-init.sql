-- One database per owner, as under `make run`: a domain never reads another's tables.
CREATE DATABASE catalog;
CREATE DATABASE identity;
CREATE DATABASE quality;
CREATE DATABASE logistics;
CREATE DATABASE scheduling;
