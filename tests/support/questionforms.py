"""QuestionForm documents for the renderer's tests: one with every content and answer type."""

from __future__ import annotations

NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionForm.xsd"


def question_form(*parts: str, namespace: str = NS) -> str:
    return f'<QuestionForm xmlns="{namespace}">{"".join(parts)}</QuestionForm>'


def question(identifier: str, answer: str, *, required: bool = False, content: str = "", name: str = "") -> str:
    display = f"<DisplayName>{name}</DisplayName>" if name else ""
    return (
        f"<Question><QuestionIdentifier>{identifier}</QuestionIdentifier>{display}"
        f"<IsRequired>{'true' if required else 'false'}</IsRequired>"
        f"<QuestionContent>{content or f'<Text>Question {identifier}</Text>'}</QuestionContent>"
        f"<AnswerSpecification>{answer}</AnswerSpecification></Question>"
    )


def free_text(constraints: str = "", default: str = "", lines: int | None = None) -> str:
    return (
        "<FreeTextAnswer>"
        + (f"<Constraints>{constraints}</Constraints>" if constraints else "")
        + (f"<DefaultText>{default}</DefaultText>" if default else "")
        + (f"<NumberOfLinesSuggestion>{lines}</NumberOfLinesSuggestion>" if lines else "")
        + "</FreeTextAnswer>"
    )


def selection(
    choices: dict[str, str], *, style: str = "", low: int | None = None, high: int | None = None, other: str = ""
) -> str:
    counts = (f"<MinSelectionCount>{low}</MinSelectionCount>" if low is not None else "") + (
        f"<MaxSelectionCount>{high}</MaxSelectionCount>" if high is not None else ""
    )
    body = "".join(
        f"<Selection><SelectionIdentifier>{key}</SelectionIdentifier>{shown}</Selection>"
        for key, shown in choices.items()
    )
    return (
        f"<SelectionAnswer>{counts}"
        + (f"<StyleSuggestion>{style}</StyleSuggestion>" if style else "")
        + f"<Selections>{body}{other}</Selections></SelectionAnswer>"
    )


def upload(low: int, high: int) -> str:
    return (
        f"<FileUploadAnswer><MaxFileSizeInBytes>{high}</MaxFileSizeInBytes>"
        f"<MinFileSizeInBytes>{low}</MinFileSizeInBytes></FileUploadAnswer>"
    )


COLOURS = {"red": "<Text>Red</Text>", "green": "<Text>Green</Text>", "blue": "<Text>Blue</Text>"}

EVERYTHING = question_form(
    "<Overview><Title>Describe the &lt;script&gt;alert(1)&lt;/script&gt; picture</Title>"
    "<Text>Look at the picture &amp; answer.</Text>"
    "<List><ListItem>Be honest</ListItem><ListItem>Be quick</ListItem></List>"
    "<Binary><MimeType><Type>image</Type><SubType>png</SubType></MimeType>"
    "<DataURL>https://example.com/cat.png</DataURL><AltText>A cat on a mat</AltText></Binary>"
    "<Binary><MimeType><Type>audio</Type><SubType>mpeg</SubType></MimeType>"
    "<DataURL>https://example.com/meow.mp3</DataURL><AltText>The cat meowing</AltText></Binary>"
    "<Binary><MimeType><Type>video</Type><SubType>mp4</SubType></MimeType>"
    "<DataURL>https://example.com/cat.mp4</DataURL><AltText>The cat walking</AltText></Binary>"
    "<Binary><MimeType><Type>application</Type><SubType>pdf</SubType></MimeType>"
    "<DataURL>https://example.com/guide.pdf</DataURL><AltText>The guide</AltText></Binary>"
    "<Application><JavaApplet><AppletPath>https://example.com/</AppletPath><AppletFilename>a.class</AppletFilename>"
    "<Width>10</Width><Height>10</Height></JavaApplet></Application>"
    "<EmbeddedBinary><EmbeddedMimeType><Type>image</Type></EmbeddedMimeType>"
    "<DataURL>https://example.com/dog.png</DataURL><AltText>A dog</AltText><Width>40</Width><Height>30</Height>"
    "</EmbeddedBinary>"
    "<FormattedContent><![CDATA[<p>Read <b>carefully</b> <a href=\"https://example.com/help\">help</a>"
    "<a href=\"javascript:alert(1)\" onclick=\"alert(2)\">bad</a></p><script>alert(3)</script>]]>"
    "</FormattedContent></Overview>",
    question("name", free_text('<Length minLength="2" maxLength="20"/>', default="Tom"), required=True, name="Name"),
    question("age", free_text('<IsNumeric minValue="1" maxValue="30"/>'), required=True, name="Cat's age"),
    question(
        "code",
        free_text('<AnswerFormatRegex regex="^[A-Z]{3}$" errorText="Three capital letters, like ABC."/>'),
        name="Code",
    ),
    question(
        "word",
        free_text('<AnswerFormatRegex regex="^cat$" flags="i" errorText="Type the word cat."/>'),
        name="Word",
    ),
    question("story", free_text(lines=4), name="Story"),
    question("colour", selection(COLOURS, style="radiobutton"), required=True, name="Colour"),
    question("likes", selection(COLOURS, style="checkbox", low=1, high=2), name="Likes"),
    question("size", selection({"s": "<Text>Small</Text>", "l": "<Text>Large</Text>"}, style="dropdown"), name="Size"),
    question("mood", selection({"h": "<Text>Happy</Text>", "s": "<Text>Sad</Text>"}, style="list"), name="Mood"),
    question("breed", selection({"x": "<Text>Tabby</Text>", "y": "<Text>Siamese</Text>"}, style="combobox"),
             name="Breed"),
    question(
        "toys",
        selection({"ball": "<Text>Ball</Text>", "mouse": "<Text>Mouse</Text>", "box": "<Text>Box</Text>"},
                  style="multichooser", low=1, high=3),
        name="Toys",
    ),
    question(
        "food",
        selection(
            {"fish": "<FormattedContent><![CDATA[<b>Fish</b>]]></FormattedContent>",
             "meat": "<Binary><MimeType><Type>image</Type></MimeType><DataURL>https://example.com/meat.png</DataURL>"
                     "<AltText>Meat</AltText></Binary>"},
            other='<OtherSelection><Constraints><Length maxLength="10"/></Constraints></OtherSelection>',
        ),
        name="Food",
    ),
    question("photo", upload(10, 1000), name="Photo"),
)  # fmt: skip

# EVERYTHING as a browser posts it once every control is filled (the file goes through the upload route),
# and the answers the server makes of it with the file stored as UploadedFile("KEY", 500).
EVERYTHING_POSTED: dict[str, list[str]] = {
    "name": ["Tom"],
    "age": ["7"],
    "code": ["ABC"],
    "word": ["CAT"],
    "story": ["Once upon a time"],
    "colour": ["green"],
    "likes": ["red", "blue"],
    "size": ["l"],
    "mood": ["h"],
    "breed": ["y"],
    "toys": ["ball", "box"],
    "food": ["__other__"],
    "food.OtherSelectionText": ["mice"],
}
EVERYTHING_ANSWERS: list[tuple[str, object]] = [
    ("name", "Tom"),
    ("age", "7"),
    ("code", "ABC"),
    ("word", "CAT"),
    ("story", "Once upon a time"),
    ("colour", ["green"]),
    ("likes", ["red", "blue"]),
    ("size", ["l"]),
    ("mood", ["h"]),
    ("breed", ["y"]),
    ("toys", ["ball", "box"]),
    ("food", {"SelectionIdentifiers": [], "OtherSelectionText": "mice"}),
    ("photo", {"UploadedFileKey": "KEY", "UploadedFileSizeInBytes": 500}),
]
