-- A chat file (an upload or a screen recording) holds at most 100 MB (seed: "There's a hard
-- limit of 100MB per recording"). chatdb.validation.MAX_CHAT_FILE_BYTES says the same in Python
-- so a caller learns it before sending the bytes; this CHECK holds for every other path.
-- NOT VALID: a row stored before the limit stays readable; every new or rewritten row is checked.

ALTER TABLE chat_files
    ADD CONSTRAINT chat_files_data_size_check CHECK (octet_length(data) <= 104857600) NOT VALID;
