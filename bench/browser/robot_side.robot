*** Comments ***
The browser benchmark's Robot Framework side: the standard workload with
SeleniumLibrary keywords, as a Robot suite is usually written.

    robot --variable PORTAL:URL --variable ROWS:rows.csv --variable OUTPUT:out.csv
    ...    --variable STATS:stats.json robot_side.robot


*** Settings ***
Library     SeleniumLibrary    timeout=10s    implicit_wait=0s
Library     OperatingSystem
Library     robot_lib.py


*** Variables ***
${PORTAL}       http://127.0.0.1:8765
${ROWS}         rows.csv
${OUTPUT}       output.csv
${STATS}        stats.json
${DRIVER}       /usr/bin/chromedriver


*** Test Cases ***
Register Applications
    ${options}=    Chrome Options
    Open Browser    ${PORTAL}/login    chrome    options=${options}    executable_path=${DRIVER}
    Input Text    id:user    petugas
    Input Password    id:pass    rahasia123
    Click Button    css:input[value=Masuk]
    Wait Until Page Contains    Selamat datang
    ${rows}=    Read Rows    ${ROWS}
    Create File    ${OUTPUT}    NIK,Nomor Registrasi\n
    FOR    ${row}    IN    @{rows}
        Register One    ${row}
    END
    Close Browser
    Write Stats    ${STATS}    ${rows}


*** Keywords ***
Register One
    [Arguments]    ${row}
    Go To    ${PORTAL}/utama?hal=baru
    Select Frame    name:main
    Input Text    id:nik    ${row}[NIK]
    Input Text    id:nama    ${row}[Nama Pemohon]
    Select From List By Label    id:jenis    ${row}[Jenis Izin]
    Select Radio Button    skala    ${row}[Skala Usaha]
    # The date field is read-only and filled by a calendar widget.
    Execute Javascript
    ...    var h = document.getElementById('tanggal'); h.value = arguments[0]; h.onchange();
    ...    ARGUMENTS    ${row}[Tanggal Pengajuan]
    Input Text    id:alamat    ${row}[Alamat]
    Input Text    id:telepon    ${row}[Telepon]
    Wait Until Element Is Enabled    id:simpan
    Click Button    id:simpan
    Handle Alert    ACCEPT
    Wait Until Page Contains Element    id:hasil-ok
    Select Frame    name:detail
    ${nomor}=    Get Text    id:no-reg
    Unselect Frame
    Append To File    ${OUTPUT}    ${row}[NIK],${nomor}\n
