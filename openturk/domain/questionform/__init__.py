"""QuestionForm as data: MTurk's document read into an immutable render model, with no I/O.

``reader.read`` is the one reader of a QuestionForm: ``openturk.domain.questions.parse_question``
calls it for every Question and qualification Test, so a form the worker site could not show is
refused when it is created, not when a worker opens it.
"""
